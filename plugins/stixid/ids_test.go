package stixid

import (
	"crypto/sha1"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uuid5 is an independent RFC 4122 v5 implementation (no google/uuid) to check the vectors.
func uuid5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	s := h.Sum(nil)[:16]
	s[6] = (s[6] & 0x0f) | 0x50
	s[8] = (s[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

var oasisNS = [16]byte{0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}

// TestGoldenIDVectors checks the reference §8.1 vectors twice: the canonical input string of
// the reference hashed by an independent uuid5, and our generator called like pycti.
func TestGoldenIDVectors(t *testing.T) {
	const ts = "2024-01-01T00:00:00+00:00"
	const aceSeen = "2024-07-12T08:13:14.430000+00:00"
	cases := []struct {
		name      string
		got       string
		canonical string
		want      string
	}{
		{"ID-1", IdentityID("HarfangLab Incidents", "organization"),
			`{"identity_class":"organization","name":"harfanglab incidents"}`, "identity--f2da1bba-f3e1-5ee5-b0f1-86ce66700a91"},
		{"ID-2", IdentityID("  VM-WINDOWS ", "System"),
			`{"identity_class":"system","name":"vm-windows"}`, "identity--aace1093-f349-5a09-9a5c-2dd49eef00a5"},
		{"ID-3", IncidentID("X on h", mustISO(t, "2024-01-01T00:00:00Z")),
			`{"created":"2024-01-01T00:00:00+00:00","name":"x on h"}`, "incident--cd816467-79a5-50fe-a3ad-f932cbb88bb6"},
		{"ID-4", IncidentID("Évènement é on hôte", ts),
			`{"created":"2024-01-01T00:00:00+00:00","name":"évènement é on hôte"}`, "incident--e38f00ef-140c-59e6-9d5a-488c807e9fe3"},
		{"ID-5", IncidentID("a\"b\\c\nd\te on h", ts),
			`{"created":"2024-01-01T00:00:00+00:00","name":"a\"b\\c\nd\te on h"}`, "incident--a5b8465b-b334-5ac5-bf4e-f3af8cd6cb88"},
		{"ID-6", IncidentID("x\u2028y </script> & <b> on h", ts),
			"{\"created\":\"2024-01-01T00:00:00+00:00\",\"name\":\"x\u2028y </script> & <b> on h\"}", "incident--2ba08115-fed7-5dd5-b159-0af95be997eb"},
		{"ID-7", IncidentID("ctrl \x01\x1f\x7f on h", ts),
			"{\"created\":\"2024-01-01T00:00:00+00:00\",\"name\":\"ctrl \\u0001\\u001f\x7f on h\"}", "incident--fee01ab0-4d19-592c-b642-1ec79c3a6052"},
		{"ID-8", IndicatorID("[ipv4-addr:value = '185.220.101.4']"),
			`{"pattern":"[ipv4-addr:value = '185.220.101.4']"}`, "indicator--a479da3b-a151-5e90-a1ca-836ed90c1426"},
		{"ID-9", AttackPatternID("T1003.001"), `{"x_mitre_id":"T1003.001"}`, "attack-pattern--b99b2e84-d430-5d56-94f2-ccaceddce4ad"},
		{"ID-10", RelationshipID("related-to", "hostname--bde41c9f-5c7c-5ee2-bfd6-5fdf3278a741", "identity--aace1093-f349-5a09-9a5c-2dd49eef00a5"),
			`{"relationship_type":"related-to","source_ref":"hostname--bde41c9f-5c7c-5ee2-bfd6-5fdf3278a741","target_ref":"identity--aace1093-f349-5a09-9a5c-2dd49eef00a5"}`,
			"relationship--b89820b0-feb0-5e96-bfe3-cf589d27f98e"},
		{"ID-11", SightingID("indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc", "identity--aace1093-f349-5a09-9a5c-2dd49eef00a5", mustISO(t, "2024-07-12T08:13:14.430+00:00"), aceSeen),
			`{"first_seen":"2024-07-12T08:13:14.430000+00:00","last_seen":"2024-07-12T08:13:14.430000+00:00","sighting_of_ref":"indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc","type":"sighting","where_sighted_refs":"identity--aace1093-f349-5a09-9a5c-2dd49eef00a5"}`,
			"sighting--686c9225-d31c-5777-9f3b-67dbed6eef0b"},
		{"ID-12", NoteID("Analyst note: local account creation from a scripted PowerShell session.", mustISO(t, "2024-02-08T09:00:00.000000Z")),
			`{"content":"Analyst note: local account creation from a scripted PowerShell session.","created":"2024-02-08T09:00:00+00:00"}`,
			"note--06e50c10-c5e9-5106-aad3-95f399d67ad6"},
		{"ID-13", FileID("powershell.exe", map[string]string{
			"SHA-256": "9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f",
			"SHA-1":   "04c5d2b4da9a0f3fa8a45702d4256cee42d8c48d", "MD5": "9d8e30daf21108092d5980c931876b7e",
		}), `{"hashes":{"MD5":"9d8e30daf21108092d5980c931876b7e"},"name":"powershell.exe"}`, "file--a93a7359-1d97-56d1-ae0d-c3a46f2f96d4"},
		{"ID-14", FileID("powershell.exe", nil), `{"name":"powershell.exe"}`, "file--d4e1f0b4-93f5-5fd6-97bf-64ceddb167ee"},
		{"ID-15", ValueObservableID("hostname", "vm-windows"), `{"value":"vm-windows"}`, "hostname--bde41c9f-5c7c-5ee2-bfd6-5fdf3278a741"},
		{"ID-16", UserAccountID(`vm-windows\administrateur`), `{"account_login":"vm-windows\\administrateur"}`, "user-account--497a95d8-249a-5e62-8fc2-8ce8770391f9"},
		{"ID-17", DirectoryID(`C:\Users\administrateur\`), `{"path":"C:\\Users\\administrateur\\"}`, "directory--e4bdede9-fb0e-5332-8be8-7870e1eb8403"},
		// TV-1 objects (NC swapped sighting arguments reproduced through the same generator).
		{"TV-1 sighting (swapped)", SightingID("identity--f2da1bba-f3e1-5ee5-b0f1-86ce66700a91", "indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc", aceSeen, aceSeen),
			`{"first_seen":"2024-07-12T08:13:14.430000+00:00","last_seen":"2024-07-12T08:13:14.430000+00:00","sighting_of_ref":"identity--f2da1bba-f3e1-5ee5-b0f1-86ce66700a91","type":"sighting","where_sighted_refs":"indicator--813991e2-0c6d-5bde-ae38-3b47198d5cfc"}`,
			"sighting--aa536e5c-2357-5a07-9c80-e363f3075553"},
		{"TV-1 incident", IncidentID("Detects the usage of PowerShell to create a new local user.\n Attackers can create new users to achieve persistence. on vm-windows", aceSeen),
			`{"created":"2024-07-12T08:13:14.430000+00:00","name":"detects the usage of powershell to create a new local user.\n attackers can create new users to achieve persistence. on vm-windows"}`,
			"incident--1e976c63-bb94-5681-be54-cbaa41d9a84f"},
		{"TV-4 case", CaseIncidentID("brave-otter-829 on vm-windows", mustISO(t, "2024-02-07T15:18:21.799384Z")),
			`{"created":"2024-02-07T15:18:21.799384+00:00","name":"brave-otter-829 on vm-windows"}`, "case-incident--8d3fa7e4-3797-5acc-8024-d9d926093048"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			independent := c.got[:len(c.got)-36] + uuid5(oasisNS, c.canonical)
			assert.Equal(t, independent, c.got, "generator disagrees with the hashed canonical input")
			if c.want != "" {
				assert.Equal(t, c.want, c.got)
			}
		})
	}
}

func mustISO(t *testing.T, s string) string {
	t.Helper()
	out, err := PyISOFormat(s)
	require.NoError(t, err)
	return out
}

func TestPythonStringSemantics(t *testing.T) {
	assert.Equal(t, "i\u0307", pyLower("İ"), "full case mapping like Python")
	assert.Equal(t, "οδος", pyLower("ΟΔΟΣ"), "final sigma like Python")
	assert.Equal(t, "x", pyStrip("\x1c\x1f x \u3000\n"))
	assert.Equal(t, `{"a":"<&>\u001f`+"\u2028\x7f"+`","b":["1","2"]}`,
		canonicalJSON(map[string]any{"b": []string{"1", "2"}, "a": "<&>\x1f\u2028\x7f"}))
}

func TestPyISOFormat(t *testing.T) {
	for in, want := range map[string]string{
		"2024-07-12T08:13:14.430+00:00":    "2024-07-12T08:13:14.430000+00:00",
		"2024-07-13T00:00:00Z":             "2024-07-13T00:00:00+00:00",
		"2024-02-07T09:18:21.799384-06:00": "2024-02-07T09:18:21.799384-06:00",
		"2024-01-01T00:00:29.606617060Z":   "2024-01-01T00:00:29.606617+00:00",
		"2024-01-01 10:00:00":              "2024-01-01T10:00:00",
		"2024-01-01":                       "2024-01-01T00:00:00",
	} {
		got, err := PyISOFormat(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := PyISOFormat("yesterday")
	assert.Error(t, err)
}

func TestSTIXTimestampFormats(t *testing.T) {
	p, err := ParseTime("2024-07-12T08:13:14.430+00:00")
	require.NoError(t, err)
	assert.Equal(t, "2024-07-12T08:13:14.430Z", p.STIXMillis())
	assert.Equal(t, "2024-07-12T08:13:14.43Z", p.STIXAny())
	p, err = ParseTime("2024-02-07T09:18:21.799384-06:00")
	require.NoError(t, err)
	assert.Equal(t, "2024-02-07T15:18:21.799384Z", p.STIXMillis())
	p, err = ParseTime("2024-07-13T00:00:00+00:00")
	require.NoError(t, err)
	assert.Equal(t, "2024-07-13T00:00:00.000Z", p.STIXMillis())
	assert.Equal(t, "2024-07-13T00:00:00Z", p.STIXAny())
}

func TestUTCNormalisesTheOffsetOnly(t *testing.T) {
	for in, want := range map[string]string{
		"2024-02-07T09:18:21.799384-06:00": "2024-02-07T15:18:21.799384+00:00",
		"2024-07-12T10:13:14.430+02:00":    "2024-07-12T08:13:14.430000+00:00",
		"2024-07-12T08:13:14.430+00:00":    "2024-07-12T08:13:14.430000+00:00", // legacy id unchanged
		"2024-07-13T00:00:00Z":             "2024-07-13T00:00:00+00:00",
		"2024-01-01 10:00:00":              "2024-01-01T10:00:00", // naive: nothing to convert from
	} {
		p, err := ParseTime(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, p.UTC().ISO(), in)
		assert.Equal(t, p.STIXMillis(), p.UTC().STIXMillis(), "same instant: %s", in)
	}
}
