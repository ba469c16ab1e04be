import { describe, expect, it } from "vitest";
import { encodeGrpcMessage } from "../src/grpc-message.js";

describe("encodeGrpcMessage", () => {
  it("escapes only non-printable bytes and %, as the gRPC spec says", () => {
    expect(encodeGrpcMessage("no session for user u1: call JoinRoom / ok?")).toBe(
      "no session for user u1: call JoinRoom / ok?",
    );
    expect(encodeGrpcMessage("100% é\n")).toBe("100%25 %C3%A9%0A");
    // What spec-following decoders (grpc-go, grpc-js) turn back into the original.
    expect(decodeURIComponent(encodeGrpcMessage("100% é\n:"))).toBe("100% é\n:");
  });
});
