import { describe, expect, it } from 'vitest';
import { ifNoneMatchMatches, ifRangeAllows } from './conditional';

const etag = '"abc123"';

describe('If-None-Match (RFC 9110 13.1.2)', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['"abc123"', true],
    ['W/"abc123"', true],
    ['"other", "abc123"', true],
    ['"other"', false],
    ['*', true],
    [' * ', true],
    ['abc123', false],
    ['"abc1234"', false],
  ])('%s -> %s', (header, expected) => {
    expect(ifNoneMatchMatches(header, etag)).toBe(expected);
  });
});

describe('If-Range (RFC 9110 13.1.5)', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, true],
    ['"abc123"', true],
    ['W/"abc123"', false],
    ['"other"', false],
    ['Wed, 21 Oct 2015 07:28:00 GMT', false],
  ])('%s -> %s', (header, expected) => {
    expect(ifRangeAllows(header, etag)).toBe(expected);
  });
});
