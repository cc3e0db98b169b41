/**
 * The cloud meeting server on the control plane's /metrics, read at scrape
 * time: what it holds now (rooms, participants, sessions) and what it has
 * done since start (WebSockets accepted, hellos admitted and refused, rooms
 * opened). The totals let an operator, or a test, see that an
 * internal-only meeting never reached it.
 */
import { Gauge, type Registry } from '@meetedge/service-kit';
import type { MeetingServer, MeetingServerTotals } from './meeting-server';

export function registerMeetingServerMetrics(registry: Registry, server: MeetingServer): void {
  const now = (read: (s: ReturnType<MeetingServer['stats']>) => number) => () => read(server.stats());
  const total = (read: (t: MeetingServerTotals) => number) => () => read(server.totals());
  const gauges: { name: string; help: string; read: () => number }[] = [
    { name: 'meetedge_meeting_server_rooms', help: 'Meetings with someone in their room on the cloud meeting server', read: now((s) => s.rooms) },
    { name: 'meetedge_meeting_server_participants', help: 'Participants seated in rooms of the cloud meeting server', read: now((s) => s.participants) },
    { name: 'meetedge_meeting_server_sessions', help: 'Open meeting-signaling WebSockets', read: now((s) => s.sessions) },
    { name: 'meetedge_meeting_server_sessions_opened_total', help: 'Meeting-signaling WebSockets accepted since start', read: total((t) => t.sessionsOpened) },
    { name: 'meetedge_meeting_server_rooms_opened_total', help: 'Rooms opened since start (a meeting whose room was empty got a participant)', read: total((t) => t.roomsOpened) },
  ];
  for (const g of gauges) {
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [registry],
      collect() {
        this.set(g.read());
      },
    });
  }
  new Gauge({
    name: 'meetedge_meeting_server_hellos_total',
    help: 'Hellos since start, by result: admitted, or refused (a bad token, no such meeting, an internal-only meeting, shutting down)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const t = server.totals();
      this.set({ result: 'admitted' }, t.hellosAdmitted);
      this.set({ result: 'refused' }, t.hellosRefused);
    },
  });
}
