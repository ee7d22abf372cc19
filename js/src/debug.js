// Test and benchmark hooks (timing stamps on the root's dataset, the globalThis.__modalchorus registry).
// Off unless enabled before the widget renders: globalThis.__MODALCHORUS_DEBUG__ = true, or
// localStorage 'modalchorus-debug' = '1'.

export function debugEnabled() {
  if (globalThis.__MODALCHORUS_DEBUG__ === true) return true;
  try {
    return globalThis.localStorage?.getItem('modalchorus-debug') === '1';
  } catch {
    return false; // storage can be blocked (sandboxed iframes)
  }
}

const OFF = Object.freeze({ enabled: false, stamp() {}, register: () => () => {} });

/** Hooks of one widget root; every method is a no-op when disabled. */
export function createProbe(root, enabled = debugEnabled()) {
  if (!enabled) return OFF;
  return {
    enabled: true,
    /** root.dataset[key] = ms (epoch milliseconds, default now). */
    stamp(key, ms = Date.now()) {
      root.dataset[key] = String(ms);
    },
    /** Adds entry to globalThis.__modalchorus (and root.__modalchorus); returns its removal. */
    register(entry) {
      const registry = (globalThis.__modalchorus = globalThis.__modalchorus || []);
      registry.push(entry);
      root.__modalchorus = entry;
      return () => {
        const i = registry.indexOf(entry);
        if (i >= 0) registry.splice(i, 1);
      };
    },
  };
}
