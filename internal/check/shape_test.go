package check

import "testing"

// Upload answers in the shapes the evidence shows (droid: 201 whatever the outcome, a string
// `code`, a missing `status` meaning failure) and the ones our first simulator gave.
func TestParseUpload(t *testing.T) {
	for name, c := range map[string]struct {
		body    string
		created bool
		id      string
		code    string
	}{
		"accepted, string code":   {`{"status":[{"status":true,"code":"created","id":"9f1c","content":"…","filename":"x"}]}`, true, "9f1c", `"created"`},
		"refused, duplicate_rule": {`{"status":[{"status":false,"code":"duplicate_rule","id":null,"content":"exists"}]}`, false, "", `"duplicate_rule"`},
		"accepted, int code":      {`{"status":[{"status":true,"code":201,"id":"a1"}]}`, true, "a1", `201`},
		"no status":               {`{"detail":"ok"}`, false, "", ""},
		"empty status list":       {`{"status":[]}`, false, "", ""},
		"plain object":            {`{"id":"b2","name":"x"}`, true, "b2", ""},
		"not JSON":                {`<html>`, false, "", ""},
	} {
		u := parseUpload([]byte(c.body))
		if u.created != c.created || u.id != c.id || u.code != c.code {
			t.Errorf("%s: got %+v", name, u)
		}
	}
}

func TestShape(t *testing.T) {
	for body, want := range map[string]string{
		``:                                "empty body",
		`<html>`:                          "not JSON (6 bytes)",
		`[1,2]`:                           "list of 2",
		`{"id":"x","enabled":true,"a":1}`: "object {id: string, enabled: bool, +1 keys}",
		`{"errors":[],"warnings":["w"]}`:  "object {errors: list of 0, warnings: list of 1}",
		`{"status":[{"status":false,"code":"duplicate_rule","id":null}]}`: "status list of 1 {code: string, id: null, status: bool}",
	} {
		if got := shape([]byte(body)); got != want {
			t.Errorf("shape(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string][3]int{"6.8.10": {6, 8, 10}, "7.260817.0": {7, 260817, 0}, "v6.5": {6, 5, 0}, "6.9.0-rc1": {6, 9, 0}} {
		if got, ok := parseVersion(s); !ok || got != want {
			t.Errorf("parseVersion(%q) = %v %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "rolling", "7"} {
		if _, ok := parseVersion(s); ok {
			t.Errorf("parseVersion(%q) accepted", s)
		}
	}
}

func TestRedactionAndOneLine(t *testing.T) {
	r := newReport("s3cr3t-token", "ab")
	r.add("p", true, Differs, "server said %q\nand s3cr3t-token again, ab stays", "s3cr3t-token")
	got := r.Results[0].Detail
	if got != `server said "[redacted]" and [redacted] again, ab stays` {
		t.Fatalf("got %q", got)
	}
}
