/** Zod schemas derived from the typed registries: a `kind` field picks the entry, its params follow. */
import { z } from "zod";

/**
 * A discriminated union over a registry's keys: `{ kind: K, ...params of K }` for each entry,
 * typed as the registry's spec type `T` (the registry's own params types say what each kind holds).
 */
export function kindUnion<T>(registry: Record<string, { readonly params: z.ZodObject }>): z.ZodType<T> {
  const options = Object.entries(registry).map(([k, d]) => d.params.extend({ kind: z.literal(k) }));
  return z.discriminatedUnion(
    "kind",
    options as unknown as [z.ZodObject, ...z.ZodObject[]],
  ) as unknown as z.ZodType<T>;
}
