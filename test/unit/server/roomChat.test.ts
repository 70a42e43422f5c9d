import { describe, expect, it } from 'vitest';
import { CHAT_HISTORY, ChatRateError, RoomChat } from '../../../server/rooms/RoomChat.js';

const ann = { id: 'p-ann', identity: 'ann', displayName: 'Ann' };
const bob = { id: 'p-bob', identity: 'bob', displayName: 'Bob' };

describe('RoomChat', () => {
  it('tells every listener each message, numbered, and keeps the last ones for late joiners', () => {
    let now = 0;
    const chat = new RoomChat(() => now);
    const heard: string[] = [];
    chat.on('message', (message) => heard.push(`${message.id}:${message.displayName}:${message.text}`));
    for (let i = 0; i < CHAT_HISTORY + 20; i++) {
      now += 1000;
      chat.post(i % 2 ? bob : ann, `m${i}`);
    }
    expect(heard).toHaveLength(CHAT_HISTORY + 20);
    expect(heard[0]).toBe('1:Ann:m0');
    const history = chat.history();
    expect(history).toHaveLength(CHAT_HISTORY);
    expect(history[0]!.text).toBe('m20');
    expect(history.at(-1)).toMatchObject({ id: CHAT_HISTORY + 20, identity: 'bob', text: `m${CHAT_HISTORY + 19}` });
  });

  it('lets one sender burst five messages, then one a second; others are not held back by it', () => {
    let now = 10_000;
    const chat = new RoomChat(() => now);
    for (let i = 0; i < 5; i++) chat.post(ann, 'hi');
    expect(() => chat.post(ann, 'too many')).toThrow(ChatRateError);
    expect(() => chat.post(bob, 'still fine')).not.toThrow();
    now += 1000;
    expect(() => chat.post(ann, 'one more')).not.toThrow();
    expect(() => chat.post(ann, 'and another')).toThrow(ChatRateError);
    expect(chat.history().map((message) => message.text)).not.toContain('too many');
    // A sender that left and comes back starts with a full allowance.
    chat.forget(ann.id);
    for (let i = 0; i < 5; i++) chat.post(ann, 'back');
  });
});
