import type { Conversation } from '../model/conversation.model';
import type { ConversationStore, ListPosition } from '../stores/conversation-store.port';
import type { StoreName } from '../model/store-name';

/**
 * How the comparison reads each store: the same reads the API serves (a conversation by id, a user's page).
 * A port of its own so that tests can put a hook between the comparison and the stores (e.g. a field that
 * changes on every read, which calibration must find).
 */
export interface ShadowReadPort {
  get(store: StoreName, id: string): Promise<Conversation | null>;
  list(store: StoreName, userId: string, limit: number, after?: ListPosition): Promise<Conversation[]>;
}

export const SHADOW_READ_PORT = Symbol('SHADOW_READ_PORT');

export class StoreShadowReader implements ShadowReadPort {
  constructor(private readonly stores: Record<StoreName, ConversationStore>) {}

  get(store: StoreName, id: string): Promise<Conversation | null> {
    return this.stores[store].get(id);
  }

  list(store: StoreName, userId: string, limit: number, after?: ListPosition): Promise<Conversation[]> {
    return this.stores[store].listByUser(userId, limit, after);
  }
}
