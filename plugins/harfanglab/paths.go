package harfanglab

// Every HarfangLab endpoint the product calls, relative to apiPrefix (/api/data/). One list, so
// the intel output, the alerts input and the check command can never disagree on a path.
const (
	pathAlerts  = "alert/alert/Alert/"
	pathThreats = "alert/alert/Threat/"

	pathIOCSource   = "threat_intelligence/IOCSource/"
	pathSigmaSource = "threat_intelligence/SigmaSource/"
	pathYaraSource  = "threat_intelligence/YaraSource/"
	pathIOCRule     = "threat_intelligence/IOCRule/"
	pathSigmaRule   = "threat_intelligence/SigmaRule/"
	pathYaraFile    = "threat_intelligence/YaraFile/"
)
