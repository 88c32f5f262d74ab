package harfanglab

// Every HarfangLab endpoint the product calls, relative to apiPrefix (/api/data/). One list, so
// the intel output, the alerts input and the `check` command (which probes exactly these) can
// never disagree on a path.
const (
	PathAlerts  = "alert/alert/Alert/"
	PathThreats = "alert/alert/Threat/"

	PathIOCSource   = "threat_intelligence/IOCSource/"
	PathSigmaSource = "threat_intelligence/SigmaSource/"
	PathYaraSource  = "threat_intelligence/YaraSource/"
	PathIOCRule     = "threat_intelligence/IOCRule/"
	PathSigmaRule   = "threat_intelligence/SigmaRule/"
	PathYaraFile    = "threat_intelligence/YaraFile/"
)
