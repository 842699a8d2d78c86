import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ChatMessage } from '../../../shared/index.ts';

/** Room chat: messages in order (history replayed on join), and what is unread while the panel is closed. */
export const useChatStore = defineStore('chat', () => {
  const messages = ref<ChatMessage[]>([]);
  const open = ref(false);
  const seenCount = ref(0);

  const unread = computed(() => (open.value ? 0 : messages.value.length - seenCount.value));

  function add(message: ChatMessage): void {
    if (messages.value.some((m) => m.id === message.id)) return;
    messages.value.push(message);
    if (open.value) seenCount.value = messages.value.length;
  }

  /** The server's history on (re)join; history is not unread. */
  function replaceHistory(history: ChatMessage[]): void {
    const known = new Set(messages.value.map((m) => m.id));
    const missed = history.filter((m) => !known.has(m.id));
    if (messages.value.length === 0) {
      messages.value = [...history];
      seenCount.value = history.length;
      return;
    }
    for (const message of missed) add(message);
  }

  function setOpen(value: boolean): void {
    open.value = value;
    if (value) seenCount.value = messages.value.length;
  }

  function reset(): void {
    messages.value = [];
    seenCount.value = 0;
  }

  return { messages, open, unread, add, replaceHistory, setOpen, reset };
});
