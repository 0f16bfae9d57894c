import { beforeAll, describe, expect, it } from 'vitest';
import { aMachine } from './helpers/fixtures';
import { request, useLocalStack } from './helpers/stack';

// A project of its own, so the totals below count only this file's machines.
const stack = useLocalStack();
const ids: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 23; i++) {
    const res = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine() });
    ids.push(res.body.id);
  }
});

interface Page {
  machines: { id: string }[];
  pagination: { total: number; page: number; per_page: number; total_pages: number };
}

describe('GET /api/v1/machines pagination', () => {
  it('defaults to page 1 of 20, ordered by id (creation time)', async () => {
    const res = await request<Page>(stack.url, 'GET', '/api/v1/machines');
    expect(res.body.pagination).toEqual({ total: 23, page: 1, per_page: 20, total_pages: 2 });
    expect(res.body.machines.map((m) => m.id)).toEqual(ids.slice(0, 20));
  });

  it.each([
    [1, 5, 0, 5],
    [2, 5, 5, 10],
    [5, 5, 20, 23],
    [6, 5, 23, 23],
    [2, 20, 20, 23],
    [1, 100, 0, 23],
    [3, 10, 20, 23],
  ])('page %i of %i per page holds ids [%i, %i)', async (page, perPage, from, to) => {
    const res = await request<Page>(stack.url, 'GET', `/api/v1/machines?page=${page}&per_page=${perPage}`);
    expect(res.status).toBe(200);
    expect(res.body.machines.map((m) => m.id)).toEqual(ids.slice(from, to));
    expect(res.body.pagination).toEqual({ total: 23, page, per_page: perPage, total_pages: Math.ceil(23 / perPage) });
  });

  it('walking every page visits each machine exactly once', async () => {
    const seen: string[] = [];
    for (let page = 1; page <= 5; page++) {
      const res = await request<Page>(stack.url, 'GET', `/api/v1/machines?page=${page}&per_page=5`);
      seen.push(...res.body.machines.map((m) => m.id));
    }
    expect(seen).toEqual(ids);
  });

  it('a deleted machine shifts later pages without gaps', async () => {
    const victim = ids[2] as string;
    expect((await request(stack.url, 'DELETE', `/api/v1/machines/${victim}`)).status).toBe(204);
    ids.splice(2, 1);
    const res = await request<Page>(stack.url, 'GET', '/api/v1/machines?page=2&per_page=5');
    expect(res.body.machines.map((m) => m.id)).toEqual(ids.slice(5, 10));
    expect(res.body.pagination.total).toBe(22);
  });
});
