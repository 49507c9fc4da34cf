# The RetinaMNIST 100 % study's summary (summary.txt), through the shared script.
import subprocess, sys
subprocess.run([sys.executable, "scripts/summarise_augmentation_study.py", "/tmp/study5/runs",
                "real=1,080 real, 4 epochs (268 steps)", "syn1=1,080 real + 1,080 synthetic (ratio 1), 2 epochs (270 steps)",
                "syn05=1,080 real + 540 synthetic (ratio 0.5), 3 epochs (303 steps)"], check=True)
