package check_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/check"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/hlsim"
	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/openctisim"
)

const (
	octiToken = "octi-check-secret-token-1234"
	hlToken   = "hl-check-secret-token-5678"
)

type sims struct {
	octi *openctisim.Server
	hl   *hlsim.Server
	env  map[string]string
}

func startSims(t *testing.T, lenient bool) *sims {
	t.Helper()
	octi, hl := openctisim.New(octiToken), hlsim.New(hlToken)
	hl.SetLenient(lenient)
	octiURL, err := octi.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = octi.Close() })
	hlURL, err := hl.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hl.Close() })
	return &sims{octi: octi, hl: hl, env: map[string]string{
		"OPENCTI_URL": octiURL, "OPENCTI_TOKEN": octiToken, "CONNECTOR_ID": "0e0c0000-0000-4000-8000-0000000000aa",
		"HARFANGLAB_URL": hlURL, "HARFANGLAB_TOKEN": hlToken,
	}}
}

func (s *sims) run(t *testing.T, write bool) (string, int) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lookup := func(k string) (string, bool) { v, ok := s.env[k]; return v, ok }
	failed := check.Main(ctx, &out, lookup, check.Options{Write: write, RequestTimeout: 5 * time.Second})
	return out.String(), failed
}

func TestPrint(t *testing.T) {
	for _, lenient := range []bool{false, true} {
		s := startSims(t, lenient)
		s.hl.AddAlert(s.hl.SampleAlert("sigma", 1))
		out, failed := s.run(t, true)
		t.Logf("lenient=%v failed=%d\n%s", lenient, failed, out)
		if strings.Contains(out, octiToken) || strings.Contains(out, hlToken) {
			t.Fatal("token")
		}
	}
}
