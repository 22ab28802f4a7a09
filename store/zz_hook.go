package store

var explainHook func(q string, args []any)

func explain(q string, args []any) {
	if explainHook != nil {
		explainHook(q, args)
	}
}
