/**
 * The LiveKit track name for a cloud `track_id`, as deployed: 0 speaker, 1 app audio,
 * 2 TTS, n > 2 "track_n".
 */
export function trackName(trackId: number): string {
  switch (trackId) {
    case 0:
      return "speaker";
    case 1:
      return "app_audio";
    case 2:
      return "tts";
    default:
      return `track_${trackId}`;
  }
}
