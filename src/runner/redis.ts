/**
 * Redis connections for the queue: a URL parsed into ioredis options with bounded reconnects, a
 * probe that turns "cannot connect" into one line, and a watchdog that reports a connection lost
 * for good, so neither the coordinator nor a worker hangs on a dead server.
 */
import { type ConnectionOptions, createIORedisClient, RedisConnection } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import { KdError } from "../util/errors.js";

export interface RedisTarget {
  /** The URL as the user gave it (without a password), for messages. */
  readonly url: string;
  readonly options: RedisOptions;
}

/** Reconnect attempts before a lost connection counts as lost for good (about 10 s in all). */
const RECONNECTS = 20;

/** The environment variable with the Redis password when the URL has none (a URL's shows in `ps`). */
export const PASSWORD_ENV = "KD_REDIS_PASSWORD";

/**
 * `redis://` or `rediss://` (TLS) `[USER[:PASSWORD]@]HOST[:PORT][/DB]`. Messages show the URL
 * without its user and password.
 */
export function parseRedisUrl(text: string): RedisTarget {
  const quoted = `--redis "${text.replace(/\/\/.*@/, "//")}"`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new KdError(`${quoted}: not a URL (expected redis://HOST:PORT[/DB])`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new KdError(`${quoted}: expected a redis:// or rediss:// (TLS) URL`);
  if (!u.hostname) throw new KdError(`${quoted}: no host`);
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,2}$/.test(db)) throw new KdError(`${quoted}: database must be a number`);
  const port = u.port ? Number(u.port) : 6379;
  const tls = u.protocol === "rediss:";
  const shown = `${u.protocol}//${u.hostname}:${port}${db ? `/${db}` : ""}`;
  const password = u.password ? decodeURIComponent(u.password) : process.env[PASSWORD_ENV] || undefined;
  return {
    url: shown,
    options: {
      host: u.hostname.replace(/^\[|\]$/g, ""),
      port,
      ...(db ? { db: Number(db) } : {}),
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(password ? { password } : {}),
      // Node checks the server's certificate against the host name (extra CAs: NODE_EXTRA_CA_CERTS).
      ...(tls ? { tls: {} } : {}),
      connectTimeout: 5000,
      // BullMQ's blocking connections need this; commands wait while ioredis reconnects.
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => (times > RECONNECTS ? null : Math.min(100 * times, 500)),
    },
  };
}

/** Why a connection failed, in a few words. */
export function redisReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found";
    case "ETIMEDOUT":
      return "connection timed out";
    case "ECONNRESET":
      return "connection reset";
    default: {
      const msg = String(err?.message ?? e).split("\n")[0] ?? "unknown error";
      if (msg.startsWith("NOAUTH")) return `it needs a password (${PASSWORD_ENV}, or redis://:PASSWORD@HOST)`;
      if (msg.startsWith("WRONGPASS")) return "wrong user name or password";
      return msg;
    }
  }
}

/**
 * Connects once without retrying, so an unreachable server is one clear line at once. The
 * returned client reconnects a bounded number of times; `onLost` fires when it gives up.
 */
export async function connectRedis(target: RedisTarget, onLost: (message: string) => void): Promise<Redis> {
  let last: unknown;
  const probe = new Redis({
    ...target.options,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", (e) => {
    last = e;
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    probe.disconnect();
    throw new KdError(`cannot reach Redis at ${target.url}: ${redisReason(last ?? e)}`);
  }
  probe.disconnect();
  const watch = new Redis({ ...target.options, lazyConnect: true });
  let reason = "connection closed";
  watch.on("error", (e) => {
    reason = redisReason(e);
  });
  watch.on("end", () => {
    if (!closing.has(watch)) onLost(`lost the connection to Redis at ${target.url}: ${reason}`);
  });
  await watch.connect();
  return watch;
}

const closing = new WeakSet<Redis>();

/**
 * Every client BullMQ opens keeps an error listener of its own: BullMQ removes its listener when
 * it closes a connection, but ioredis may still be reconnecting to a dead server and would then
 * print "[ioredis] Unhandled error event" with a stack. Errors reach the user through the
 * watchdog (lost for good) or a job's failure instead.
 */
function quietClients(): void {
  RedisConnection.clientFactory ??= (opts) => {
    const client = new Redis(opts);
    client.on("error", () => {});
    return createIORedisClient(client);
  };
}

/** The options BullMQ's queues, events and workers connect with (each opens its own connections). */
export function bullConnection(target: RedisTarget): ConnectionOptions {
  quietClients();
  return { ...target.options } as ConnectionOptions;
}

/** Closes a watchdog client without reporting it as lost. */
export function closeWatch(c: Redis | undefined): void {
  if (!c) return;
  closing.add(c);
  c.disconnect();
}
