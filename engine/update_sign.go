package engine

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Who sent an update. Operator events are appended by the engine, which
// signs them (opauth.go); an UpdateAccepted is appended by the worker that
// validated it, with ids and a time the engine cannot know in advance. So
// the engine signs the request instead: the run, the update's id, name and
// input, and who sent it. The worker copies the signature into the event,
// and a reader that screens history keeps the sender only when the
// signature holds; otherwise the event stays (replay needs it: the update
// was accepted and its handler ran) with Identity cleared and the claim in
// Unverified. A worker can still invent an update (workers are trusted
// within their task queues), but not an operator who sent it.

// updateSignedBytes is what the engine signs for an update of run runID.
func updateSignedBytes(runID, updateID, name string, input json.RawMessage, identity, onBehalfOf string) []byte {
	var in bytes.Buffer
	if len(input) > 0 && json.Compact(&in, input) != nil {
		in.Reset()
		in.Write(input)
	}
	return fmt.Appendf(nil, "foreman-update-v1\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s", runID, updateID, name, in.Bytes(), identity, onBehalfOf)
}

// signUpdate signs r when this process holds the engine's key.
func signUpdate(s any, r *updateRequest) error {
	k, ok := s.(OperatorKeys)
	if !ok || k.OperatorSigner() == nil {
		return nil
	}
	if r.Identity == "" && r.OnBehalfOf == "" {
		return nil
	}
	msg := updateSignedBytes(r.RunID, r.UpdateID, r.Name, r.Input, r.Identity, r.OnBehalfOf)
	r.Sig = base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.OperatorSigner(), msg))
	return nil
}

// vouch clears the sender of an update the engine did not sign.
func (v *verifier) vouch(runID string, a *UpdateAccepted) {
	if a.Identity == "" && a.OnBehalfOf == "" {
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(a.Sig)
	if err == nil && a.Sig != "" && ed25519.Verify(v.pub, updateSignedBytes(runID, a.UpdateID, a.Name, a.Input, a.Identity, a.OnBehalfOf), raw) {
		return
	}
	a.Unverified = a.Identity
	a.Identity, a.OnBehalfOf = "", ""
}
