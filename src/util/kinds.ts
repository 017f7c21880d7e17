/** Zod schemas derived from the typed registries: a `kind` field picks the entry, its params follow. */
import { z } from "zod";
import * as zm from "zod/mini";
import type { $ZodObject } from "zod/v4/core";

/**
 * A discriminated union over a registry's keys: `{ kind: K, ...params of K }` for each entry,
 * typed as the registry's spec type `T` (the registry's own params types say what each kind holds).
 */
export function kindUnion<T>(registry: Record<string, { readonly params: $ZodObject }>): z.ZodType<T> {
  // zod/mini's extend takes classic and mini objects alike (the objectives' are mini) and keeps
  // each one's strictness.
  const options = Object.entries(registry).map(([k, d]) =>
    zm.extend(d.params as zm.ZodMiniObject, { kind: z.literal(k) }),
  );
  return z.discriminatedUnion(
    "kind",
    options as unknown as [z.ZodObject, ...z.ZodObject[]],
  ) as unknown as z.ZodType<T>;
}
