/** Latin letters that no decomposition takes apart, written as people spell them without the letter. */
const LATIN_LETTERS: Record<string, string> = {
  ß: 'ss', æ: 'ae', Æ: 'AE', ø: 'o', Ø: 'O', œ: 'oe', Œ: 'OE', ł: 'l', Ł: 'L', đ: 'd', Đ: 'D', þ: 'th', Þ: 'Th',
};

/**
 * The room id a name people type stands for: accents dropped, every run of other characters (spaces,
 * punctuation) one dash, at most 64 characters, starting with a letter or digit. A valid id is its own id, so
 * links and API calls that already use ids are unchanged. The web page and the server's guest-token endpoint
 * map names with this one function. Empty when the name has no letter or digit at all.
 */
export function roomIdOf(name: string): string {
  return name
    .replace(/[ßæÆøØœŒłŁđĐþÞ]/g, (letter) => LATIN_LETTERS[letter] ?? letter)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
}
