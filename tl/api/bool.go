package api

// BoolOf returns boolTrue or boolFalse, the result value of methods declared to return Bool.
func BoolOf(v bool) BoolClass {
	if v {
		return &BoolTrue{}
	}
	return &BoolFalse{}
}
