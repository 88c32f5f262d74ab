package intel

import (
	"testing"
	"time"
)

func TestCompareSeq(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1718445600123-0", "1718445600123-0", 0},
		{"1718445600123-0", "1718445600124-0", -1},
		{"1718445600123-2", "1718445600123-10", -1},
		{"1718445600200-0", "1718445600123-9", 1},
		{"", "1718445600123-0", 0},
		{"garbage", "1-0", 0},
	}
	for _, test := range tests {
		if got := CompareSeq(test.a, test.b); got != test.want {
			t.Errorf("CompareSeq(%q,%q)=%d want %d", test.a, test.b, got, test.want)
		}
	}
}

func TestDecodeRejectsIncompleteChanges(t *testing.T) {
	for _, body := range []string{`{`, `{"via":"pattern"}`, `{"owner":"x"}`, `{"owner":"x","via":"pattern","rule":{"kind":"snort"}}`} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("Decode(%s) accepted an invalid change", body)
		}
	}
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Change{Owner: "o", Via: ViaPattern, Live: true, ValidUntil: &until, IOCs: []IOC{{Type: TypeURL, Value: "http://e.com/?q=a+b"}}}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.IOCs[0].Value != "http://e.com/?q=a+b" || !got.ValidUntil.Equal(until) {
		t.Errorf("round trip changed the change: %+v", got)
	}
	if !got.ExpiredAt(until) || got.ExpiredAt(until.Add(-time.Second)) {
		t.Errorf("ExpiredAt wrong around valid_until")
	}
}

func TestSnapshotMarkers(t *testing.T) {
	c, err := Decode([]byte(`{"control":"snapshot_end","generation":"2026-12-02T10:00:00Z","reason":"trimmed"}`))
	if err != nil || c.Control != ControlSnapshotEnd || c.Generation == "" || c.Reason != "trimmed" {
		t.Fatalf("Decode(snapshot_end) = %+v, %v", c, err)
	}
	for _, body := range []string{`{"control":"snapshot_end"}`, `{"control":"rewind","generation":"g"}`} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("Decode(%s) accepted an invalid marker", body)
		}
	}
}
