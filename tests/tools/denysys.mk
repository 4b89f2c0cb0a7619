denysys_DEPS :=
