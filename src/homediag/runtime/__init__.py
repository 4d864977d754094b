"""The probe runtime: the Probe protocol, the context probes see, and the Runner."""
