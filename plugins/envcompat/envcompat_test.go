package envcompat

import (
	"strings"
	"testing"
)

func TestSkipCertVerifyFollowsSSLVerify(t *testing.T) {
	for raw, want := range map[string]string{"": "false", "true": "false", "1": "false", "false": "true", "False": "true", "0": "true"} {
		t.Setenv("HARFANGLAB_SSL_VERIFY", raw)
		got, ok := Lookup(t.Context(), "HARFANGLAB_SKIP_CERT_VERIFY")
		if !ok || got != want {
			t.Errorf("HARFANGLAB_SSL_VERIFY=%q gives %q, want %q", raw, got, want)
		}
	}
	t.Setenv("HARFANGLAB_SSL_VERIFY", "nope")
	got, _ := Lookup(t.Context(), "HARFANGLAB_SKIP_CERT_VERIFY")
	if !strings.Contains(got, "HARFANGLAB_SSL_VERIFY") {
		t.Errorf("a bad value must name the variable, got %q", got)
	}
	t.Setenv("OPENCTI_URL", "http://x")
	if got, ok := Lookup(t.Context(), "OPENCTI_URL"); !ok || got != "http://x" {
		t.Errorf("plain variables must pass through, got %q %v", got, ok)
	}
}
