package assessment

import inframindv1 "github.com/infra-mind/infra-mind/pkg/gen/inframind/v1"

// The request lets a user state some quantities in more than one way (tokens
// directly or as dataset x epochs, growth as multipliers or as absolute
// demand, a model's size by parameters or by architecture). These helpers
// return the one value the calculators need, whichever way it was given, so
// every family reads it the same way. They assume a request ParseRequest
// accepted; 0 means "not stated".

// StatedParamsBillion returns the total parameters the workload states:
// architecture.total_params_billion, else params_billion. It is 0 when the
// workload names only a catalogue model, whose size is the catalogue's.
func StatedParamsBillion(w *inframindv1.Workload) float64 {
	if a := w.GetArchitecture(); a.GetTotalParamsBillion() > 0 {
		return a.GetTotalParamsBillion()
	}
	return w.GetParamsBillion()
}

// ActiveParamsBillion returns the parameters used per token of a custom
// architecture: active_params_billion for a mixture of experts, else the
// total (a dense model). It is 0 without an architecture.
func ActiveParamsBillion(a *inframindv1.ModelArchitecture) float64 {
	if a.GetActiveParamsBillion() > 0 {
		return a.GetActiveParamsBillion()
	}
	return a.GetTotalParamsBillion()
}

// TrainingTokensBillion returns the tokens a training workload trains on, in
// billions: training_tokens_billion, else dataset_tokens_billion x epochs
// (each epoch is one full pass over the dataset).
func TrainingTokensBillion(w *inframindv1.Workload) float64 {
	if t := w.GetTrainingTokensBillion(); t > 0 {
		return t
	}
	return w.GetDatasetTokensBillion() * w.GetEpochs()
}

// GrowthMultipliers returns demand in 6, 12 and 24 months as multiples of
// today's, from multipliers or from absolute demand (month_N_demand /
// current_demand). A value not stated is 0.
func GrowthMultipliers(g *inframindv1.Growth) (month6, month12, month24 float64) {
	if now := g.GetCurrentDemand(); now > 0 {
		return g.GetMonth_6Demand() / now, g.GetMonth_12Demand() / now, g.GetMonth_24Demand() / now
	}
	return g.GetMonth_6Multiplier(), g.GetMonth_12Multiplier(), g.GetMonth_24Multiplier()
}
