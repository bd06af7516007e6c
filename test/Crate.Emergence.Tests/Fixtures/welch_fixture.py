# Independent oracle for the Welch tests: t and Welch-Satterthwaite df by the textbook formulas, the two-sided p by
# integrating Student's t density numerically (Simpson, 2e6 intervals on [0, |t|]), no incomplete beta function.
import math
def pdf(x, v):
    return math.exp(math.lgamma((v+1)/2) - math.lgamma(v/2)) / math.sqrt(v*math.pi) * (1 + x*x/v) ** (-(v+1)/2)
def two_sided(t, v, n=2000000):
    t = abs(t); h = t / n
    s = pdf(0, v) + pdf(t, v)
    for i in range(1, n):
        s += (4 if i % 2 else 2) * pdf(i*h, v)
    return 1 - 2 * (s * h / 3)
def welch(a, b):
    ma, mb = sum(a)/len(a), sum(b)/len(b)
    va = sum((x-ma)**2 for x in a)/(len(a)-1); vb = sum((x-mb)**2 for x in b)/(len(b)-1)
    qa, qb = va/len(a), vb/len(b)
    t = (ma-mb)/math.sqrt(qa+qb)
    df = (qa+qb)**2/(qa*qa/(len(a)-1) + qb*qb/(len(b)-1))
    return t, df, two_sided(t, df)
cases = [([0.306, 0.318, 0.295], [0.248, 0.231, 0.265]),
         ([0.338, 0.336, 0.340], [0.288, 0.253, 0.323]),
         ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 7.0])]
for a, b in cases:
    t, df, p = welch(a, b)
    print(a, b, repr(t), repr(df), repr(p))
# closed forms: v=1 (Cauchy), v=2, v=4, to check the integration itself
for t in [0.5, 2.0]:
    print('v1', t, two_sided(t,1), 1-2/math.pi*math.atan(t))
    print('v2', t, two_sided(t,2), 1-t/math.sqrt(2+t*t))
