"""What a watch recorded, without the network: the store, detectors, the correlator.

Support side: ``homediag watch report STORE`` runs from these on a machine
without the probing stack. The samplers that feed them live in
:mod:`homediag.recording`. See docs/watch-design.md.
"""
