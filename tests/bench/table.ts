/** Fixed-width text tables, so a row can be printed as soon as its step is measured. */

export interface Column<Row> {
  header: string;
  /** Minimum width; a longer value widens its own row rather than being cut. */
  width: number;
  value(row: Row): string;
}

const GAP = '  ';

function pad(text: string, width: number, first: boolean): string {
  // Names read best left-aligned; numbers line up on the right.
  return first ? text.padEnd(width) : text.padStart(width);
}

export function tableHeader<Row>(columns: readonly Column<Row>[]): string {
  const widths = columns.map((column) => Math.max(column.width, column.header.length));
  const header = columns.map((column, i) => pad(column.header, widths[i]!, i === 0)).join(GAP);
  const rule = widths.map((width) => '-'.repeat(width)).join(GAP);
  return `${header}\n${rule}`;
}

export function tableRow<Row>(columns: readonly Column<Row>[], row: Row): string {
  return columns.map((column, i) => pad(column.value(row), Math.max(column.width, column.header.length), i === 0)).join(GAP);
}

export function table<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  return [tableHeader(columns), ...rows.map((row) => tableRow(columns, row))].join('\n');
}

/** A number for a table cell; "-" when there is nothing to show. */
export function cell(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}
