import { describe, expect, it } from 'vitest';
import { FILE_NAME_MAX_BYTES, sanitizeFileName } from '../../sfu/src/files/file-name.ts';

describe('sanitizeFileName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['Quarterly report (final) v2.xlsx', 'Quarterly report (final) v2.xlsx'],
    ['Résumé – été.docx', 'Résumé – été.docx'],
    ['会议记录.txt', '会议记录.txt'],
  ])('keeps an ordinary name: %s', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([
    ['../../etc/passwd', 'passwd'],
    ['/etc/shadow', 'shadow'],
    ['C:\\Users\\me\\secret.txt', 'secret.txt'],
    ['..\\..\\boot.ini', 'boot.ini'],
    ['dir/', 'dir'],
    ['a/b/../c.txt', 'c.txt'],
  ])('keeps only the last path segment: %s', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([
    ['bad\u0000name.txt', 'badname.txt'],
    ['bell\u0007\u001b[31mred.txt', 'bell[31mred.txt'],
    ['two\nlines\r.txt', 'twolines.txt'],
    ['del\u007f.txt', 'del.txt'],
    ['c1\u0085\u009b.txt', 'c1.txt'],
  ])('removes control characters: %j', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['\u202Bright\u202C.txt', 'right.txt'],
    ['iso\u2066late\u2069.txt', 'isolate.txt'],
    ['mark\u200E\u200F\u061C.txt', 'mark.txt'],
    ['zero\u200Bwidth\uFEFF.txt', 'zerowidth.txt'],
    ['line\u2028sep\u2029.txt', 'linesep.txt'],
  ])('removes bidi overrides, isolates, marks and invisible characters: %j', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([
    ['.bashrc', 'bashrc'],
    ['...hidden', 'hidden'],
    ['trailing dots...', 'trailing dots'],
    ['  spaced   out  .txt ', 'spaced out .txt'],
    ['tab\tseparated.txt', 'tab separated.txt'],
    ['what?<>:"|*.txt', 'what_______.txt'],
  ])('trims dots and spaces, and replaces reserved characters: %j', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([
    ['CON', '_CON'],
    ['nul.txt', '_nul.txt'],
    ['com1.tar.gz', '_com1.tar.gz'],
    ['LPT9', '_LPT9'],
    ['console.log', 'console.log'],
    ['com10.txt', 'com10.txt'],
  ])('defuses Windows device names: %s', (claimed, clean) => {
    expect(sanitizeFileName(claimed)).toBe(clean);
  });

  it.each([[''], ['.'], ['..'], ['/'], ['\u202E'], ['\u0000\u0001'], [' . ']])('falls back to "file" when nothing is left: %j', (claimed) => {
    expect(sanitizeFileName(claimed)).toBe('file');
  });

  it('shortens a long name to the byte limit, keeping its extension and whole characters', () => {
    const long = `${'a'.repeat(300)}.pdf`;
    const short = sanitizeFileName(long);
    expect(short).toBe(`${'a'.repeat(FILE_NAME_MAX_BYTES - 4)}.pdf`);
    const wide = sanitizeFileName(`${'é'.repeat(200)}.txt`); // two bytes each
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(FILE_NAME_MAX_BYTES);
    expect(wide.endsWith('.txt')).toBe(true);
    expect(wide).not.toContain('\uFFFD');
    const emoji = sanitizeFileName('😀'.repeat(100)); // four bytes, two UTF-16 units each
    expect(emoji).toBe('😀'.repeat(FILE_NAME_MAX_BYTES / 4));
    // An "extension" that is really a long tail is cut like the rest.
    expect(Buffer.byteLength(sanitizeFileName(`x.${'y'.repeat(300)}`))).toBe(FILE_NAME_MAX_BYTES);
  });

  it('NFC-normalises, so the same name typed two ways is one name', () => {
    expect(sanitizeFileName('e\u0301te\u0301.txt')).toBe('été.txt');
  });
});
