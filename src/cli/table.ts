// Plain aligned text tables for the CLI's default (non --json) output.

export type Cell = string | number | boolean | null | undefined;

/** Renders a cell: null/undefined as "-", booleans as yes/no, lists joined with commas. */
export function cell(v: Cell | readonly (string | number)[]): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

/**
 * Columns padded to their widest cell, two spaces apart, headers upper-cased; numbers are
 * right-aligned (except in the first column). Ends with a newline; an empty row list gives the header line alone.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly (Cell | readonly (string | number)[])[])[]): string {
  const text = rows.map((r) => headers.map((_, i) => cell(r[i])));
  const numeric = headers.map((_, i) => i > 0 && rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        if (i === cells.length - 1 && !numeric[i]) return c;
        return numeric[i] === true ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n') + '\n';
}
