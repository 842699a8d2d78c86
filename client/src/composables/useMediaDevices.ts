import { onBeforeUnmount, onMounted, ref } from 'vue';

export interface DeviceOption {
  deviceId: string;
  label: string;
}

/** The cameras, microphones and speakers the browser offers, kept current as devices come and go. */
export function useMediaDevices() {
  const cameras = ref<DeviceOption[]>([]);
  const microphones = ref<DeviceOption[]>([]);
  const speakers = ref<DeviceOption[]>([]);

  async function refresh(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const pick = (kind: MediaDeviceKind, fallback: string) =>
      devices
        .filter((d) => d.kind === kind && d.deviceId)
        .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${fallback} ${i + 1}` }));
    cameras.value = pick('videoinput', 'Camera');
    microphones.value = pick('audioinput', 'Microphone');
    speakers.value = pick('audiooutput', 'Speaker');
  }

  const onChange = () => void refresh();
  onMounted(() => {
    void refresh();
    navigator.mediaDevices?.addEventListener('devicechange', onChange);
  });
  onBeforeUnmount(() => navigator.mediaDevices?.removeEventListener('devicechange', onChange));

  return { cameras, microphones, speakers, refresh };
}
