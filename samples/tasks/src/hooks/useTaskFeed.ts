import { useEffect, useState } from 'react';
import { base44 } from '@/api/base44Client';

export type TaskEvent = {
  type: 'create' | 'update' | 'delete';
  id: string;
  data: Record<string, unknown>;
  timestamp: string;
};

/** The latest realtime changes to tasks, newest first. */
export function useTaskFeed(limit: number = 20): TaskEvent[] {
  const [events, setEvents] = useState<TaskEvent[]>([]);

  useEffect(() => {
    const unsubscribe = base44.entities.Task.subscribe((event: TaskEvent) => { // expect: entity Task.subscribe
      setEvents((previous) => [event, ...previous].slice(0, limit));
    });
    return () => unsubscribe();
  }, [limit]);

  return events;
}
