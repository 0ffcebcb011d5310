import addressparser from 'nodemailer/lib/addressparser';

/** RFC 2047 encoded words (UTF-8, B or Q) back to text; whitespace between two encoded words goes. */
function decodeWords(text: string): string {
  return text
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?utf-8\?([BbQq])\?([^?]*)\?=/gi, (_word, encoding: string, data: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_hex, byte: string) => String.fromCharCode(parseInt(byte, 16))), 'latin1').toString('utf8'),
    );
}

/** The mailboxes of a raw message's To header as a mail client reads them: unfolded, parsed, names decoded. */
export function recipientsOf(raw: string): { name: string; address: string }[] {
  const header = /^To:(.*(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? '';
  const unfolded = header.replace(/\r?\n(?=[ \t])/g, '').trim();
  return addressparser(unfolded, { flatten: true }).map((mailbox) => ({ name: decodeWords(mailbox.name), address: mailbox.address }));
}
