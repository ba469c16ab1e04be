// Replaces @mentra/livekit-rig inside the executable: the development rig starts a
// livekit-server from the repository's tool cache, which a deployed image does not have.
export async function startLiveKit() {
  throw new Error(
    "the livekit-bridge executable embeds no LiveKit: set LIVEKIT_URL, LIVEKIT_API_KEY and " +
      "LIVEKIT_API_SECRET",
  );
}
