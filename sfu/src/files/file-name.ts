/**
 * The name a shared file is shown and saved under, made from whatever the sender's browser claimed.
 * Everyone sees it and their browser proposes it when they save, so it must not reach outside the
 * download folder (`../../etc/passwd`), disguise itself (a right-to-left override turning
 * `invoice\u202Efdp.exe` into what reads "invoiceexe.pdf"), hide (a leading dot), or be refused by a file system
 * (Windows' reserved characters and device names, over-long names).
 */

/** Bytes of UTF-8: file systems allow 255; browsers add " (1)" and the like to duplicates. */
export const FILE_NAME_MAX_BYTES = 200;
/** An extension longer than this is not kept apart when the name is shortened. */
const EXTENSION_MAX_CHARS = 16;
const FALLBACK_NAME = 'file';

/** Control characters, and format characters: bidi overrides and isolates, zero-width joiners, BOM. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
/** Reserved in Windows file names (the path separators are handled first). */
const RESERVED = /[<>:"|?*]/g;
/** CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension: devices on Windows. */
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

export function sanitizeFileName(claimed: string): string {
  // The last path segment, with either separator: a name is never a path.
  const base = claimed.normalize('NFC').split(/[/\\]/).filter((part) => part.length > 0).pop() ?? '';
  let name = base
    .replace(/\t/g, ' ')
    .replace(INVISIBLE, '')
    .replace(RESERVED, '_')
    .replace(/\s+/g, ' ')
    // Leading dots hide a file (and make "." and ".."); trailing dots and spaces Windows drops itself.
    .replace(/^[\s.]+|[\s.]+$/g, '');
  if (DEVICE_NAME.test(name)) name = `_${name}`;
  name = shorten(name);
  return name.length > 0 ? name : FALLBACK_NAME;
}

/** Cuts the stem, not the extension, so that a long name still opens with the right program. */
function shorten(name: string): string {
  if (utf8Length(name) <= FILE_NAME_MAX_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot - 1 <= EXTENSION_MAX_CHARS ? name.slice(dot) : '';
  const stem = extension ? name.slice(0, dot) : name;
  const room = FILE_NAME_MAX_BYTES - utf8Length(extension);
  let kept = '';
  // By code point, so a cut never splits a character.
  for (const char of stem) {
    if (utf8Length(kept + char) > room) break;
    kept += char;
  }
  return kept.replace(/[\s.]+$/, '') + extension;
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
