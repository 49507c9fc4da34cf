# The RetinaMNIST 10 % study's summary (summary.txt), through the shared script.
import subprocess, sys
subprocess.run([sys.executable, "scripts/summarise_augmentation_study.py", "/tmp/study3/runs",
                "real=108 real, 10 epochs (60 steps)", "syn1=108 real + 108 synthetic (ratio 1), 5 epochs",
                "syn2=108 real + 216 synthetic (ratio 2), 3 epochs", "cas=220 synthetic only (CAS), 5 epochs"], check=True)
