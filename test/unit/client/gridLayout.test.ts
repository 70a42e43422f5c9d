import { describe, expect, it } from 'vitest';
import { bestGrid } from '../../../client/app/gridLayout.js';

const ASPECT = 16 / 9;

describe('bestGrid: the largest 16:9 tiles that all fit', () => {
  it('fills a wide window with one tile up to its height, and a tall one up to its width', () => {
    expect(bestGrid(1, 1280, 600, 12)).toEqual({ columns: 1, tileWidth: Math.floor(600 * ASPECT) });
    expect(bestGrid(1, 390, 600, 12)).toEqual({ columns: 1, tileWidth: 390 });
  });

  it('puts six tiles three by two in a wide window and two by three in a tall one', () => {
    expect(bestGrid(6, 1900, 950, 12).columns).toBe(3);
    expect(bestGrid(6, 390, 560, 12).columns).toBe(2);
    expect(bestGrid(6, 700, 1000, 12).columns).toBe(2);
  });

  it('never gives tiles that overflow the area, whatever the count and size', () => {
    for (const count of [1, 2, 3, 4, 5, 6, 7, 9, 12, 16, 25]) {
      for (const [width, height] of [[1280, 600], [1920, 950], [390, 500], [800, 300]] as const) {
        const { columns, tileWidth } = bestGrid(count, width, height, 12);
        const rows = Math.ceil(count / columns);
        expect(columns * tileWidth + (columns - 1) * 12).toBeLessThanOrEqual(width);
        expect(rows * (tileWidth / ASPECT) + (rows - 1) * 12).toBeLessThanOrEqual(height + 1);
      }
    }
  });
});
