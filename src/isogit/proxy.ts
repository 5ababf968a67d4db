/**
 * A stand-in for an fs client that keeps its shape for isomorphic-git (the
 * same keys, and `promises` with the same enumerability, which isomorphic-git
 * checks to pick the promise or the callback API) while some of its methods
 * are replaced.
 */

import type { AnyFn } from '../util.js';

/**
 * `replace(key, fn, client)` returns the method to use for `client[key]`
 * (already bound as needed); `promises` is wrapped the same way.
 */
export function proxyClient<C extends object>(client: C, replace: (key: PropertyKey, fn: AnyFn, client: any) => AnyFn, depth = 0): C {
  const bound = new Map<PropertyKey, { orig: unknown; fn: unknown }>();
  let promises: unknown;
  const valueOf = (key: PropertyKey): unknown => {
    const v = Reflect.get(client, key, client);
    if (key === 'promises' && depth === 0 && v && typeof v === 'object') {
      if (!promises) promises = proxyClient(v as object, replace, 1);
      return promises;
    }
    if (typeof v !== 'function') return v;
    let b = bound.get(key);
    if (!b || b.orig !== v) {
      b = { orig: v, fn: replace(key, v as AnyFn, client) };
      bound.set(key, b);
    }
    return b.fn;
  };
  // a blank target: no Proxy invariant ties the answers to a frozen client
  return new Proxy(Object.create(null) as C, {
    get: (_t, key) => valueOf(key),
    set: (_t, key, value) => Reflect.set(client, key, value),
    has: (_t, key) => Reflect.has(client, key),
    ownKeys: () => Reflect.ownKeys(client),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Reflect.getOwnPropertyDescriptor(client, key);
      if (!d) return undefined;
      // isomorphic-git looks at `promises`' enumerability: keep it
      return { value: valueOf(key), writable: true, enumerable: d.enumerable, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(client),
    defineProperty: (_t, key, d) => Reflect.defineProperty(client, key, d),
    deleteProperty: (_t, key) => Reflect.deleteProperty(client, key),
  });
}
