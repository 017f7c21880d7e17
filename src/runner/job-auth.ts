/**
 * Queue jobs signed by the coordinator: `kd run --redis` and `kd worker` share a secret, each job's
 * data carries an HMAC-SHA256 of its kind and canonical JSON, and a worker takes only jobs whose
 * HMAC checks out — anyone who can write to Redis but cannot read the secret cannot make a worker
 * read a file or train anything.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, linkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempPathFor } from "../util/atomic.js";
import { KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { fsReason } from "../util/fs-errors.js";

/** The environment variable that holds the queue's shared secret. */
export const SECRET_ENV = "KD_QUEUE_SECRET";

export const SECRET_FILE_HELP = `the file holding the secret that signs queue jobs, the same for kd run and every worker (default: $${SECRET_ENV}, else <store>/secret)`;

/** A secret shorter than this is refused: it could be guessed offline from one signed job. */
const MIN_SECRET = 16;

/** Where the secret comes from, in order: --secret-file, $KD_QUEUE_SECRET, <store>/secret. */
export interface SecretSource {
  readonly secretFile?: string;
  /** The store's root folder (already created). */
  readonly store: string;
}

function checked(text: string, where: string): Buffer {
  const s = text.trim();
  if (s.length < MIN_SECRET)
    throw new KdError(`${where}: a queue secret needs at least ${MIN_SECRET} characters`);
  return Buffer.from(s, "utf8");
}

const readSecretFile = (path: string): Buffer =>
  checked(readInputFile(path, "queue secret file", 4096).toString("utf8"), path);

/**
 * The store's own secret, made on first use (mode 0600) by whichever process gets there first:
 * it is written under a temporary name and hard-linked into place, so a racing process either
 * links its own or finds the winner's complete file, never a half-written one.
 */
function storeSecret(store: string): Buffer {
  const path = join(store, "secret");
  if (!existsSync(path)) {
    const tmp = tempPathFor(path);
    try {
      writeFileSync(tmp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw new KdError(`cannot create the queue secret ${path}: ${fsReason(e)} (or set ${SECRET_ENV})`);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return readSecretFile(path);
}

/** The shared secret (never from a command-line value, which `ps` would show). */
export function queueSecret(o: SecretSource): Buffer {
  if (o.secretFile !== undefined) return readSecretFile(o.secretFile);
  const env = process.env[SECRET_ENV];
  if (env !== undefined && env !== "") return checked(env, SECRET_ENV);
  return storeSecret(o.store);
}

/** JSON with object keys sorted at every level: the same text on both sides of Redis. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

const mac = (secret: Buffer, name: string, payload: unknown): Buffer =>
  createHmac("sha256", secret)
    .update(`${name}\n${canonicalJson(payload)}`)
    .digest();

/** A job's data as queued: the payload's own fields beside `mac`, the hex HMAC of kind and payload. */
export function signJob<T extends object>(secret: Buffer, name: string, payload: T): T & { mac: string } {
  // Through JSON first, as Redis will store it (undefined fields dropped), so the worker sees the same value.
  const plain = JSON.parse(JSON.stringify(payload)) as T;
  return { ...plain, mac: mac(secret, name, plain).toString("hex") };
}

/**
 * The payload of a signed job (its data without `mac`), or a KdError saying why it is refused.
 * Checked before anything else reads the data; the comparison takes the same time however much
 * of the HMAC matches.
 */
export function verifyJob(secret: Buffer, name: string, data: unknown): Record<string, unknown> {
  const unsigned = new KdError(
    "not signed with this queue's secret (kd run and every kd worker need the same " +
      `${SECRET_ENV}, --secret-file or store)`,
  );
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw unsigned;
  const { mac: given, ...payload } = data as Record<string, unknown>;
  if (typeof given !== "string" || !/^[0-9a-f]{64}$/.test(given)) throw unsigned;
  let want: Buffer;
  try {
    want = mac(secret, name, payload);
  } catch {
    // Nested too deep to serialise: no coordinator made it.
    throw unsigned;
  }
  if (!timingSafeEqual(Buffer.from(given, "hex"), want)) throw unsigned;
  return payload;
}
