"""What exists to measure: seeded scenes and their simulator, the benchmark, the demo.

Lab code may import the sensor (`edge`); the sensor never imports the lab.
"""
