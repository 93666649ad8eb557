import QtQuick
import QtQuick.Layouts

// The staff panel of one counter: its customer, the actions, who waits, a notice for the
// lobby. Everything comes from the injected `panel` (nowserving.counter.panel).
Rectangle {
    id: root
    required property var panel
    readonly property var s: panel.strings
    readonly property real unit: Math.max(9, Math.min(width / 70, height / 45))
    readonly property var ticket: panel.ticket
    readonly property bool hasTicket: ticket.number !== undefined
    property string callReason: "priority"  // for calling a customer out of turn (a code)
    property bool choosingPause: false
    color: "#111a24"

    // ----- header ------------------------------------------------------------------------
    RowLayout {
        id: header
        anchors { left: parent.left; right: parent.right; top: parent.top; margins: root.unit }
        spacing: root.unit
        Text {
            text: root.panel.counterName
            color: "#ffffff"; font.pixelSize: root.unit * 2; font.bold: true
        }
        Rectangle {
            radius: height / 2
            implicitHeight: root.unit * 2.2
            implicitWidth: statusText.implicitWidth + root.unit * 1.6
            color: root.panel.status === "open" ? "#2ea043"
                 : root.panel.status === "paused" ? "#d29922" : "#6e7681"
            Text {
                id: statusText
                anchors.centerIn: parent
                text: root.s[root.panel.status] || root.panel.status
                color: "#ffffff"; font.pixelSize: root.unit * 1.1; font.bold: true
            }
        }
        Rectangle {
            visible: !root.panel.online
            radius: height / 2; color: "#b3261e"
            implicitHeight: root.unit * 2.2
            implicitWidth: offline.implicitWidth + root.unit * 1.6
            Text {
                id: offline
                anchors.centerIn: parent
                text: root.s.offline; color: "#ffffff"; font.pixelSize: root.unit * 1.1
            }
        }
        Item { Layout.fillWidth: true }
        StaffBadge { signIn: root.panel.signIn; unit: root.unit }
        Repeater {
            model: root.panel.languages
            delegate: ActionButton {
                required property var modelData
                unit: root.unit * 0.8
                implicitWidth: root.unit * 6
                label: modelData.label
                tint: modelData.code === root.panel.language ? "#30363d" : "#161b22"
                onClicked: root.panel.setLanguage(modelData.code)
            }
        }
    }

    RowLayout {
        anchors {
            top: header.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
            margins: root.unit
        }
        spacing: root.unit * 1.5

        // ----- the customer at the counter and the actions ----------------------------------
        ColumnLayout {
            Layout.fillHeight: true
            Layout.preferredWidth: parent.width * 0.45
            Layout.maximumWidth: parent.width * 0.5
            spacing: root.unit
            Rectangle {
                Layout.fillWidth: true
                implicitHeight: root.unit * 11
                radius: root.unit * 0.6
                color: "#0d2847"
                Column {
                    anchors.centerIn: parent
                    spacing: root.unit * 0.3
                    Text {
                        anchors.horizontalCenter: parent.horizontalCenter
                        text: root.hasTicket ? root.ticket.number : root.s.no_ticket
                        color: root.hasTicket ? "#f5b301" : "#8b949e"
                        font.pixelSize: root.unit * (root.hasTicket ? 5 : 1.8)
                        font.bold: true
                    }
                    Text {
                        anchors.horizontalCenter: parent.horizontalCenter
                        visible: root.hasTicket
                        text: root.hasTicket ? root.ticket.service + " · "
                              + (root.s[root.ticket.status] || root.ticket.status) + " "
                              + root.ticket.since : ""
                        color: "#c9d1d9"; font.pixelSize: root.unit * 1.4
                    }
                }
            }
            GridLayout {
                Layout.fillWidth: true
                columns: 3
                rowSpacing: root.unit * 0.6; columnSpacing: root.unit * 0.6
                ActionButton { Layout.fillWidth: true; unit: root.unit; label: root.s.next
                    tint: "#238636"; active: root.panel.status === "open"
                    onClicked: root.panel.press("next") }
                ActionButton { Layout.fillWidth: true; unit: root.unit; label: root.s.recall
                    active: root.hasTicket && root.ticket.status === "called"
                    onClicked: root.panel.press("recall") }
                ActionButton { Layout.fillWidth: true; unit: root.unit; label: root.s.start
                    active: root.hasTicket && root.ticket.status === "called"
                    onClicked: root.panel.press("start") }
                ActionButton { Layout.fillWidth: true; unit: root.unit; label: root.s.done
                    active: root.hasTicket
                    onClicked: root.panel.press("done") }
                ActionButton { Layout.fillWidth: true; unit: root.unit; label: root.s.no_show
                    tint: "#8b3a3a"; active: root.hasTicket && root.ticket.status === "called"
                    onClicked: root.panel.press("no_show") }
                ActionButton { Layout.fillWidth: true; unit: root.unit
                    label: root.panel.status === "open" ? root.s.pause : root.s.resume
                    tint: "#9e6a03"; active: !root.hasTicket || root.panel.status !== "open"
                    onClicked: root.panel.status === "open"
                               ? root.choosingPause = !root.choosingPause
                               : root.panel.press("pause") }
            }
            Flow {  // a pause needs its reason, shown to customers on the display
                visible: root.choosingPause && root.panel.status === "open"
                Layout.fillWidth: true
                spacing: root.unit * 0.5
                Repeater {
                    model: root.panel.pauseReasons  // codes, put into words here
                    delegate: ActionButton {
                        required property string modelData
                        unit: root.unit * 0.8
                        label: root.s.pause + ": " + root.s["pause_" + modelData]
                        tint: "#9e6a03"
                        onClicked: { root.panel.pause(modelData); root.choosingPause = false }
                    }
                }
            }
            Text {
                text: root.s.transfer
                color: "#8b949e"; font.pixelSize: root.unit * 1.1
            }
            Flow {
                Layout.fillWidth: true
                spacing: root.unit * 0.5
                Repeater {
                    model: root.panel.services
                    delegate: ActionButton {
                        required property var modelData
                        unit: root.unit * 0.8
                        implicitWidth: Math.max(root.unit * 7, root.unit * 0.9 * modelData.name.length + root.unit * 2)
                        label: modelData.name
                        tint: "#30363d"
                        active: root.hasTicket
                        onClicked: root.panel.transfer(modelData.id)
                    }
                }
            }
            Text {
                visible: root.panel.message !== ""
                text: root.panel.message
                color: "#ff7b72"; font.pixelSize: root.unit * 1.2
                wrapMode: Text.WordWrap
                Layout.fillWidth: true
            }
            Item { Layout.fillHeight: true }
        }

        // ----- who waits, and a notice for the lobby ----------------------------------------
        ColumnLayout {
            Layout.fillHeight: true
            Layout.fillWidth: true
            spacing: root.unit * 0.6
            Text {
                text: root.s.waiting_title
                color: "#ffffff"; font.pixelSize: root.unit * 1.5; font.bold: true
            }
            Row {  // the reason recorded when a customer is called out of turn
                spacing: root.unit * 0.5
                Text {
                    text: root.s.reason_label + ":"
                    color: "#8b949e"; font.pixelSize: root.unit * 1.1
                    anchors.verticalCenter: parent.verticalCenter
                }
                Repeater {
                    model: root.panel.callReasons  // codes, put into words here
                    delegate: ActionButton {
                        required property string modelData
                        unit: root.unit * 0.7
                        implicitWidth: root.unit * 8
                        label: root.s["reason_" + modelData]
                        tint: root.callReason === modelData ? "#1f6feb" : "#30363d"
                        onClicked: root.callReason = modelData
                    }
                }
            }
            Text {
                text: root.panel.counts.map(c => c.name + " · " + c.waiting).join("   ")
                color: "#c9d1d9"; font.pixelSize: root.unit * 1.1
                wrapMode: Text.WordWrap; Layout.fillWidth: true
            }
            ListView {
                id: list
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                spacing: root.unit * 0.3
                model: root.panel.waiting
                delegate: Rectangle {
                    required property var modelData
                    width: list.width
                    height: root.unit * 3.2
                    radius: root.unit * 0.4
                    color: "#161b22"
                    RowLayout {
                        anchors.fill: parent
                        anchors.leftMargin: root.unit; anchors.rightMargin: root.unit * 0.5
                        Text { text: modelData.number; color: "#f5b301"
                               font.pixelSize: root.unit * 1.4; font.bold: true
                               Layout.preferredWidth: root.unit * 4.5 }
                        Text { text: modelData.waited + " · " + modelData.service
                               color: "#c9d1d9"; font.pixelSize: root.unit * 1.05
                               elide: Text.ElideRight; Layout.fillWidth: true }
                        ActionButton {
                            unit: root.unit * 0.7
                            implicitWidth: root.unit * 4.5
                            label: root.s.call_this  // out of turn, with the chosen reason
                            active: root.panel.status === "open" && !root.hasTicket
                            onClicked: root.panel.callTicket(modelData.id, root.callReason)
                        }
                    }
                }
            }
            Text {
                text: root.s.notice_title
                color: "#8b949e"; font.pixelSize: root.unit * 1.1
            }
            RowLayout {
                Layout.fillWidth: true
                Rectangle {
                    Layout.fillWidth: true
                    implicitHeight: root.unit * 3
                    radius: root.unit * 0.4
                    color: "#0d1117"; border.color: "#30363d"
                    TextInput {
                        id: notice
                        anchors.fill: parent; anchors.margins: root.unit * 0.6
                        color: "#ffffff"; font.pixelSize: root.unit * 1.2
                        clip: true
                    }
                }
                ActionButton {
                    unit: root.unit * 0.8
                    label: root.s.notice_post
                    onClicked: { root.panel.postNotice(notice.text); notice.text = "" }
                }
            }
        }
    }

    // ----- staff sign-in (SignIn.qml): over everything while nobody works here ------------
    Loader {
        anchors.fill: parent
        z: 10
        active: root.panel.signIn.shown
        sourceComponent: SignIn { panel: root.panel }
    }
}
