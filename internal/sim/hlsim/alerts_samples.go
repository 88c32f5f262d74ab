package hlsim

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Sample alert kinds accepted by SampleAlert.
const (
	SampleSigma       = "sigma"
	SampleYara        = "yara"
	SampleIOCHash     = "ioc-hash"
	SampleIOCDomain   = "ioc-domain"
	SampleIOCIP       = "ioc-ip"
	SampleIOCURL      = "ioc-url"
	SampleIOCFilename = "ioc-filename"
)

// SampleKinds lists every kind SampleAlert knows.
var SampleKinds = []string{SampleSigma, SampleYara, SampleIOCHash, SampleIOCDomain, SampleIOCIP, SampleIOCURL, SampleIOCFilename}

var sigmaTitles = []struct{ name, msg, id, tag string }{
	{"Local User Created via PowerShell", "Detects the usage of PowerShell to create a new local user.\n Attackers can create new users to achieve persistence.", "742a1f89-039d-459e-b772-50a881353a76", "attack.t1136.001"},
	{"Suspicious Encoded PowerShell Command Line", "Detects suspicious powershell process starts with base64 encoded commands.", "ca2092a1-c273-4878-9b4b-0d60115bf5ea", "attack.t1059.001"},
	{"LSASS Memory Dump via Comsvcs DLL", "Detects adversaries leveraging the MiniDump export function of comsvcs.dll to dump LSASS memory.", "a49fa4d5-11db-418c-8473-1e014a8dd462", "attack.t1003.001"},
}

var yaraFiles = []struct{ file, rule, tag string }{
	{"mimikatz", "mimikatz_clear_string_markers", "attack.t1003.001"},
	{"cobaltstrike_beacon", "cobaltstrike_beacon_config", "attack.t1071.001"},
	{"emotet_loader", "emotet_loader_strings", "attack.t1204.002"},
}

// SampleAlert returns a realistic security event of kind (one of SampleKinds), varied by i
// (host, user, values). Shapes follow the HarfangLab samples of the reference (§1.3): `id`,
// `alert_unique_id` and dates are left out so AddAlert fills them with fresh values.
func (s *Server) SampleAlert(kind string, i int) map[string]any {
	host := fmt.Sprintf("wks-%03d", i%50)
	user := fmt.Sprintf("CORP\\user%02d", i%20)
	exe := fmt.Sprintf("tool%d.exe", i)
	a := map[string]any{
		"status":        "new",
		"log_type":      "alert",
		"maturity":      "stable",
		"alert_subtype": "process",
		"level":         []string{"low", "medium", "high", "critical"}[i%4],
		"agent": map[string]any{
			"agentid":       fmt.Sprintf("1553619e-8271-4941-8e10-%012d", i%50),
			"hostname":      host,
			"ostype":        "windows",
			"osproducttype": "Windows 11 Enterprise",
			"osversion":     "10.0.22631",
			"domainname":    "CORP",
			"version":       "3.10.2",
		},
	}
	proc := map[string]any{
		"current_directory": fmt.Sprintf("C:\\Users\\user%02d\\", i%20),
		"process_name":      exe,
		"image_name":        "C:\\Users\\Public\\" + exe,
		"username":          user,
		"usersid":           fmt.Sprintf("S-1-5-21-3860028710-1894839758-596913598-%d", 1000+i%20),
		"hashes":            sampleHashes(fmt.Sprintf("binary-%d", i)),
	}
	a["process"] = proc
	switch kind {
	case SampleSigma:
		r := sigmaTitles[i%len(sigmaTitles)]
		a["alert_type"] = "sigma"
		a["rule_name"] = r.name
		a["rule_id"] = r.id
		a["msg"] = r.msg
		a["tags"] = []any{"attack.persistence", r.tag}
		proc["process_name"] = "powershell.exe"
		proc["image_name"] = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
	case SampleYara:
		y := yaraFiles[i%len(yaraFiles)]
		a["alert_type"] = "yara"
		a["rule_name"] = "Yara detection: " + y.file
		a["msg"] = "Binary was found malicious by 1 rule(s) with a score of 120"
		proc["matched_rules"] = []any{map[string]any{"namespace": y.file + ".yar", "rulename": y.rule, "source": "default"}}
	case SampleIOCHash:
		h := sampleHashes(fmt.Sprintf("malware-%d", i))
		proc["hashes"] = h
		setIOC(a, "hash", h["sha256"].(string))
	case SampleIOCDomain:
		setIOC(a, "domain_name", fmt.Sprintf("c2-%d.evil.example", i))
	case SampleIOCIP:
		setIOC(a, "ip_dst", fmt.Sprintf("185.220.%d.%d", (i/250)%250, 1+i%250))
	case SampleIOCURL:
		setIOC(a, "url", fmt.Sprintf("http://dl-%d.evil.example/payload.bin?id=%d", i, i))
	case SampleIOCFilename:
		name := fmt.Sprintf("evil%d.exe", i)
		proc["process_name"] = name
		setIOC(a, "filename", name)
	default:
		panic(fmt.Sprintf("hlsim: SampleAlert: unknown kind %q (want one of %v)", kind, SampleKinds))
	}
	return a
}

// setIOC makes a an IOC alert in the message format the connectors expect (`<type>=<value>`).
func setIOC(a map[string]any, iocType, value string) {
	a["alert_type"] = "ioc"
	a["rule_name"] = "IOC " + strings.ReplaceAll(iocType, "_", " ") + " match"
	a["msg"] = iocType + "=" + value
}

func sampleHashes(seed string) map[string]any {
	m5 := md5.Sum([]byte(seed))
	s1 := sha1.Sum([]byte(seed))
	s2 := sha256.Sum256([]byte(seed))
	return map[string]any{"md5": hex.EncodeToString(m5[:]), "sha1": hex.EncodeToString(s1[:]), "sha256": hex.EncodeToString(s2[:])}
}

// SampleRuleFor returns the threat-intelligence rule that fired for a sample alert, as AddRule
// takes it: ("ioc", IOCRule), ("sigma", SigmaRule) or ("yara", YaraFile). The IOC rule's comment
// carries indicatorIDs the way the intel output writes them.
func SampleRuleFor(alert map[string]any, indicatorIDs ...string) (kind string, rule map[string]any) {
	switch alert["alert_type"] {
	case "ioc":
		msg, _ := alert["msg"].(string)
		typ, value, _ := strings.Cut(msg, "=")
		rule = map[string]any{"type": typ, "value": value, "description": "From OpenCTI", "hl_status": "stable", "enabled": true}
		if len(indicatorIDs) > 0 {
			rule["comment"] = commentFor(indicatorIDs)
		}
		return "ioc", rule
	case "sigma":
		name, _ := alert["rule_name"].(string)
		tag := "attack.t1059"
		for _, t := range sigmaTitles {
			if t.name == name {
				tag = t.tag
			}
		}
		content := fmt.Sprintf("title: %s\nid: %s\nstatus: stable\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  selection:\n    Image|endswith: '\\powershell.exe'\n  condition: selection\nlevel: medium\ntags:\n  - %s\n", name, alert["rule_id"], tag)
		rule = map[string]any{"name": name, "rule_name": name, "content": content, "description": name, "rule_technique_tags": []any{tag}, "hl_status": "stable", "enabled": true}
		if len(indicatorIDs) > 0 {
			rule["comment"] = commentFor(indicatorIDs)
		}
		return "sigma", rule
	case "yara":
		name, _ := alert["rule_name"].(string)
		_, file, _ := strings.Cut(name, ":")
		file = strings.TrimSpace(file)
		ruleName, tag := file, "attack.t1204"
		for _, y := range yaraFiles {
			if y.file == file {
				ruleName, tag = y.rule, y.tag
			}
		}
		content := fmt.Sprintf("rule %s {\n  strings:\n    $a = \"%s\"\n  condition:\n    $a\n}\n", ruleName, file)
		rule = map[string]any{"name": file, "content": content, "rule_names": []any{ruleName}, "rule_technique_tags": []any{tag}, "description": file + " detection rules", "hl_status": "stable", "enabled": true}
		if len(indicatorIDs) > 0 {
			rule["comment"] = commentFor(indicatorIDs)
		}
		return "yara", rule
	}
	return "", nil
}

func commentFor(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	return fmt.Sprintf(`{"indicator_id":%q,"indicator_ids":[%s],"indicator_score":80}`, ids[0], strings.Join(quoted, ","))
}
