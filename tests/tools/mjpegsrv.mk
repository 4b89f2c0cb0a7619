mjpegsrv_DEPS :=
