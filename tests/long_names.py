"""Long zh and en service names as a real branch gives them, written once for the tests that
try a screen with them: the kiosk's, counter's and display's branches (tests/kiosk/branches.py)
and the web role's and head office's long branch (tests/web/long_branch.py)."""

from __future__ import annotations

# In this order tests/kiosk/branches.py's branch of N services takes the first N.
SERVICES = [
    ("现金存取", "Cash deposit & withdrawal"),
    ("开户与账户服务", "Account opening & account services"),
    ("银行卡挂失与补办", "Lost card reporting & replacement"),
    ("个人贷款与按揭", "Personal loans & mortgages"),
    ("理财产品咨询与购买", "Wealth products: advice & purchase"),
    ("对公开户与企业结算", "Business accounts & corporate settlement"),
    ("外币兑换与跨境汇款", "Foreign exchange & cross-border remittance"),
    ("个人养老金与社保卡业务", "Personal pension & social security card services"),
    ("信用卡申请与分期业务", "Credit card applications & instalment plans"),
    ("电子银行开通与密码重置", "Online banking sign-up & password reset"),
    ("贵金属与保险代理业务", "Precious metals & insurance agency services"),
    ("大额存单与定期存款", "Large certificates of deposit & time deposits"),
    ("公积金贷款与还款业务", "Housing provident fund loans & repayment"),
    ("票据与支票业务", "Bills & cheque services"),
    ("外籍人士账户服务", "Account services for foreign nationals"),
    ("老年与残障客户专窗", "Dedicated counter for elderly & disabled customers"),
]
# Short names (by index in SERVICES), as a branch gives them for the long names a 7" screen
# cannot fit.
SHORT = {
    1: ("开户与账户", "Accounts"),
    4: ("理财产品", "Wealth products"),
    5: ("对公业务", "Business accounts"),
    6: ("外汇与汇款", "FX & remittance"),
    7: ("养老金与社保卡", "Pension & social security"),
    8: ("信用卡", "Credit cards"),
    9: ("电子银行", "Online banking"),
    10: ("贵金属与保险", "Metals & insurance"),
    11: ("存单与定期", "CDs & time deposits"),
    12: ("公积金贷款", "Provident fund loans"),
    14: ("外籍人士", "Foreign nationals"),
    15: ("老年与残障专窗", "Elderly & disabled"),
}
# The longest: the long branch's cash service.
CASH = ("个人养老金、社保卡与现金存取综合业务",
        "Personal pension, social security card & cash services")  # fmt: skip
# Beyond the example branch's five services, the long branch's eleven: SERVICES' that the
# example has no like of, then two of its own.
MORE = [SERVICES[i] for i in (2, 6, 8, 9, 10, 11, 12, 13, 14)] + [
    ("社保卡激活与信息变更", "Social security card activation & details update"),
    ("企业开户与对公结算账户", "Company account opening & corporate settlement"),
]
