/** A value as one table cell: objects and lists compact, nothing as `-`. */
function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `rows` as aligned columns under `columns` (key, header), for people; `(none)` when empty. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<[key: string, header: string]>): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((row) => columns.map(([key]) => cell(key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], row))));
  const widths = columns.map(([, header], i) => Math.max(header.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i]!))).join('  ');
  return `${[line(columns.map(([, header]) => header)), ...cells.map(line)].join('\n')}\n`;
}
