/** A small hand-written conversation, for tests that want readable expectations rather than generated data. */
import { Conversation } from '../conversation.model';

export const SAMPLE_ID = '5f1d7a2b9c8e4d3a2b1c0d9e';

export function sampleConversation(overrides: Partial<Conversation> = {}): Conversation {
  return {
    id: SAMPLE_ID,
    userId: 'user-1',
    title: 'Trip to Kyoto 京都 🚄',
    messages: [
      { role: 'user', content: 'Where should I stay?', createdAt: new Date('2021-03-04T05:06:07.123Z') },
      { role: 'assistant', content: 'Near Gion.', createdAt: new Date('2021-03-04T05:06:09.000Z') },
      { role: 'tool', content: '', createdAt: new Date('2021-03-04T05:06:10.001Z') },
    ],
    metadata: { source: 'web', tags: ['travel', 'japan'], nested: { z: 1, a: { b: true } } },
    createdAt: new Date('2021-03-04T05:00:00.000Z'),
    updatedAt: new Date('2021-03-05T00:00:00.000Z'),
    version: 3,
    deleted: false,
    ...overrides,
  };
}
