/** Width over height of every tile. */
const ASPECT = 16 / 9;

/**
 * The largest 16:9 tiles `count` tiles can have in a `width` × `height` area with `gap` between them: the
 * number of columns that gives them, and their width. Every tile fits whole; nothing scrolls.
 */
export function bestGrid(count: number, width: number, height: number, gap: number): { columns: number; tileWidth: number } {
  const tiles = Math.max(1, count);
  let best = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= tiles; columns++) {
    const rows = Math.ceil(tiles / columns);
    const byWidth = (width - gap * (columns - 1)) / columns;
    const byHeight = ((height - gap * (rows - 1)) / rows) * ASPECT;
    const tileWidth = Math.floor(Math.min(byWidth, byHeight));
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  return { columns: best.columns, tileWidth: Math.max(0, best.tileWidth) };
}
