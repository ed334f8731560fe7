// Diffs of two JSON values, written by hand (about 120 lines) rather than vendored: a line
// diff of their canonical form (keys sorted, two-space indent) reads like a code review, and
// a list of the changed JSON paths says what changed structurally. Neither needs a library,
// eval or HTML: the caller renders both as text.

// JSON with object keys sorted at every level, so a reordered object is not a change.
export function canonical(value) {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const sorted = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key]);
    return sorted;
  }
  return value;
}

// Beyond this many cells the middle of a diff is shown as removed then added (no LCS).
const MAX_CELLS = 4_000_000;

// The lines of a and b as [{op: "same" | "removed" | "added", text, oldLine, newLine}].
export function diffLines(oldText, newText) {
  const a = oldText.split("\n");
  const b = newText.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const ops = [];
  for (let i = 0; i < start; i += 1) ops.push(["same", i, i]);
  ops.push(...middle(a, b, start, endA, start, endB));
  for (let i = 0; i < a.length - endA; i += 1) ops.push(["same", endA + i, endB + i]);
  return ops.map(([op, i, j]) => ({
    op,
    text: op === "added" ? b[j] : a[i],
    oldLine: op === "added" ? null : i + 1,
    newLine: op === "removed" ? null : j + 1,
  }));
}

function middle(a, b, a0, a1, b0, b1) {
  const n = a1 - a0;
  const m = b1 - b0;
  const out = [];
  if (n * m > MAX_CELLS || n === 0 || m === 0) {
    for (let i = a0; i < a1; i += 1) out.push(["removed", i, null]);
    for (let j = b0; j < b1; j += 1) out.push(["added", null, j]);
    return out;
  }
  // Longest common subsequence lengths, from the end (one typed array of n+1 by m+1).
  const width = m + 1;
  const table = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      table[i * width + j] =
        a[a0 + i] === b[b0 + j]
          ? table[(i + 1) * width + j + 1] + 1
          : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[a0 + i] === b[b0 + j]) {
      out.push(["same", a0 + i, b0 + j]);
      i += 1;
      j += 1;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      out.push(["removed", a0 + i, null]);
      i += 1;
    } else {
      out.push(["added", null, b0 + j]);
      j += 1;
    }
  }
  for (; i < n; i += 1) out.push(["removed", a0 + i, null]);
  for (; j < m; j += 1) out.push(["added", null, b0 + j]);
  return out;
}

// The JSON paths whose value differs: [{kind: "added" | "removed" | "changed", path, before, after}].
export function changes(before, after, path = "$", out = [], limit = 500) {
  if (out.length >= limit) return out;
  const bothObjects = isObject(before) && isObject(after);
  const bothArrays = Array.isArray(before) && Array.isArray(after);
  if (bothObjects || bothArrays) {
    const keys = bothArrays
      ? [...Array(Math.max(before.length, after.length)).keys()]
      : [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      const child = bothArrays ? `${path}[${key}]` : `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
      const has = (value) => (bothArrays ? key < value.length : Object.hasOwn(value, key));
      if (!has(before)) out.push({ kind: "added", path: child, after: after[key] });
      else if (!has(after)) out.push({ kind: "removed", path: child, before: before[key] });
      else changes(before[key], after[key], child, out, limit);
      if (out.length >= limit) break;
    }
  } else if (canonical(before) !== canonical(after)) {
    out.push({ kind: "changed", path, before, after });
  }
  return out;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
