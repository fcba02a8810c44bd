/**
 * The TypeScript type of a JSON schema written `as const`, for the few shapes the HTTP API
 * uses (objects with `required`, `type` as a name or `[name, 'null']`, `anyOf`, `enum`,
 * arrays): an answer's schema is its one definition, and its type is read from it, so the
 * two cannot drift apart.
 */
export type FromSchema<S> = S extends { readonly anyOf: readonly (infer Each)[] }
  ? FromSchema<Each>
  : S extends { readonly enum: readonly (infer Value)[] }
    ? Value
    : S extends { readonly type: infer Name }
      ? Name extends readonly (infer Names)[]
        ? TypeOf<Names, S>
        : TypeOf<Name, S>
      : unknown;

type TypeOf<Name, S> = Name extends 'null'
  ? null
  : Name extends 'string'
    ? string
    : Name extends 'integer' | 'number'
      ? number
      : Name extends 'boolean'
        ? boolean
        : Name extends 'array'
          ? S extends { readonly items: infer Item }
            ? FromSchema<Item>[]
            : unknown[]
          : Name extends 'object'
            ? ObjectOf<S>
            : unknown;

type ObjectOf<S> = S extends { readonly properties: infer Properties }
  ? S extends { readonly required: readonly (infer Key)[] }
    ? Expand<
        { -readonly [K in keyof Properties & Key]: FromSchema<Properties[K]> } & {
          -readonly [K in Exclude<keyof Properties, Key>]?: FromSchema<Properties[K]>;
        }
      >
    : { -readonly [K in keyof Properties]?: FromSchema<Properties[K]> }
  : Record<string, unknown>;

/** One object type instead of an intersection, for readable hovers and errors. */
type Expand<T> = T extends object ? { [K in keyof T]: T[K] } : T;
