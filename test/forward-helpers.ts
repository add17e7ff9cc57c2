/** Reading a JetStream stream back in tests: every message, in stream order. */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeArrival, type DecodedArrival } from '../src/index.js';

/** The arrivals in `stream` on the server at `url`, in stream order (seq 1..last). */
export async function readStream(url: string, stream = 'INOTIFY_ARRIVALS'): Promise<Array<DecodedArrival & { seq: number; msgId: string | undefined }>> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Array<DecodedArrival & { seq: number; msgId: string | undefined }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message === null) continue;
      out.push({ ...decodeArrival(message.data), seq, msgId: message.header?.get('Nats-Msg-Id') });
    }
    return out;
  } finally {
    await nc.close();
  }
}
