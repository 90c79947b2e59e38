// Devices and streams. A stream orders work on one device; every op takes `{ stream }`.

export type DeviceType = 'cpu' | 'gpu';

export class Device {
  constructor(readonly type: DeviceType, readonly index = 0) {}
  toString(): string { return `Device(${this.type}, ${this.index})`; }
  equals(o: Device): boolean { return o.type === this.type && o.index === this.index; }
}

export class Stream {
  constructor(readonly device: Device, readonly index: number) {}
  toString(): string { return `Stream(${this.device}, ${this.index})`; }
}

export const cpu = new Device('cpu');
export const gpu = new Device('gpu');

let defaultDev: Device = cpu;
const defaultStreams = new Map<string, Stream>();
let nextStream = 0;

/** Checks a device can run work; backends register this. */
type Availability = (d: Device) => string | null;
let availability: Availability = (d) => (d.type === 'cpu' ? null : 'no GPU backend is loaded');
export function setDeviceAvailability(fn: Availability): void { availability = fn; }

export function checkDevice(d: Device): void {
  const why = availability(d);
  if (why) throw new Error(`[device] ${d} is not available: ${why}`);
}

export function defaultDevice(): Device { return defaultDev; }
export function setDefaultDevice(d: Device): void { checkDevice(d); defaultDev = d; }

export function defaultStream(d: Device = defaultDev): Stream {
  const key = `${d.type}:${d.index}`;
  let s = defaultStreams.get(key);
  if (!s) { s = new Stream(d, nextStream++); defaultStreams.set(key, s); }
  return s;
}

export function newStream(d: Device = defaultDev): Stream {
  checkDevice(d);
  return new Stream(d, nextStream++);
}

/** What ops accept as `{ stream }`: a stream, or a device meaning its default stream. */
export type StreamOrDevice = Stream | Device;
export interface OpOptions { stream?: StreamOrDevice }

export function toStream(s?: StreamOrDevice): Stream {
  if (!s) return defaultStream(defaultDev);
  if (s instanceof Stream) return s;
  checkDevice(s);
  return defaultStream(s);
}
