/** Text as it may go into a participant identity: letters, digits and `_.+-`, at most 40, never empty. */
export const identitySafe = (text: string): string => text.replace(/[^A-Za-z0-9_.+-]/g, '').slice(0, 40) || 'anonymous';
