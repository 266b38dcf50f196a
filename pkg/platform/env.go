package platform

import (
	"github.com/caarlos0/env/v11"
)

// ParseEnv returns the parser of environ (KEY=value entries, as
// os.Environ gives them) that each service's main hands to Main.
func ParseEnv(environ []string) func() (Config, error) {
	return func() (Config, error) {
		vars := env.ToMap(environ)
		cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: vars})
		if err != nil {
			return Config{}, err
		}
		// caarlos0/env gives a variable that is set but empty its default,
		// as if it were unset. An empty IM_METRICS_ADDR turns the operations
		// listener off (every service README says so): services sharing a
		// host would otherwise all bind the default port.
		if v, set := vars["IM_METRICS_ADDR"]; set && v == "" {
			cfg.MetricsAddr = ""
		}
		return cfg, nil
	}
}
